-- blocks, shadowing, semicolons and empty statements
local x = 1
do local x = 2; print(x) end
print(x)
local x = x + 10
print(x)
;;; local y = 3 ; ; print(y);
do
  local a = 1
  do
    local a = a + 1
    do local a = a + 1; print(a) end
    print(a)
  end
  print(a)
end
-- locals declared in if/else branches are scoped to the branch
if true then local scoped = "if" print(scoped) else local scoped = "else" end
print(scoped)
-- loop variables are not visible after the loop
for i = 1, 2 do end
print(i)
-- local function visible inside its own body, local var function is not
local function rec(n) return n == 0 and "done" or rec(n - 1) end
print(rec(3))
-- a local declared later is not visible to earlier closures
local function early() return later end
local later = "later"
print(early())
-- 200 locals in one function are allowed
local src = {"local t = {}"}
for k = 1, 199 do src[#src + 1] = "local v" .. k .. " = " .. k end
src[#src + 1] = "return v1 + v199"
print(load(table.concat(src, "\n"))())
local toomany = {}
for k = 1, 201 do toomany[#toomany + 1] = "local v" .. k .. " = " .. k end
local f, err = load(table.concat(toomany, "\n"), "=many")
print(f, err)
