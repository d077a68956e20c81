-- nested function definitions, local function scoping and recursion
local function outer()
  local function helper(x) return x * 2 end
  local function mid(y)
    local function inner(z) return helper(z) + y end
    return inner(y + 1)
  end
  return mid(5)
end
print(outer())
-- local function vs local f = function for recursion
local function fact(n) return n <= 1 and 1 or n * fact(n - 1) end
print(fact(12))
local ok = pcall(function()
  local g = function(n) if n == 0 then return 0 end return g(n - 1) end
  return g(3)
end)
print("anonymous self-reference fails:", not ok)
-- functions defined inside loops and conditionals
local ops = {}
for _, name in ipairs({"add", "sub", "mul"}) do
  if name == "add" then ops[name] = function(a, b) return a + b end
  elseif name == "sub" then ops[name] = function(a, b) return a - b end
  else ops[name] = function(a, b) return a * b end end
end
print(ops.add(2, 3), ops.sub(2, 3), ops.mul(2, 3))
-- global function definitions with dotted names
M = {sub = {}}
function M.sub.f(x) return "M.sub.f " .. x end
function M.g() return "M.g" end
print(M.sub.f(1), M.g())
-- functions returning functions returning functions
local function curry3(f) return function(a) return function(b) return function(c) return f(a, b, c) end end end end
print(curry3(function(a, b, c) return a .. b .. c end)("x")("y")("z"))
-- shadowing
local x = "outer"
local function shadow()
  local x = "inner"
  local function deeper() local x = "deepest" return x end
  return x, deeper()
end
print(x, shadow())
-- function with many parameters and locals
local function many(a, b, c, d, e, f, g, h, i, j)
  local s = 0
  for _, v in ipairs({a, b, c, d, e, f, g, h, i, j}) do s = s + v end
  return s
end
print(many(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
