-- each loop iteration creates a fresh local
local fs = {}
for i = 1, 3 do fs[i] = function() return i end end
print(fs[1](), fs[2](), fs[3]())
fs = {}
for _, v in ipairs({"a", "b", "c"}) do fs[#fs + 1] = function() return v end end
print(fs[1](), fs[2](), fs[3]())
fs = {}
local i = 1
while i <= 3 do
  local j = i
  fs[i] = function() j = j + 10; return j end
  i = i + 1
end
print(fs[1](), fs[1](), fs[2](), fs[3]())
-- closure modifies its own copy of the loop variable
fs = {}
for k = 1, 2 do
  fs[k] = {get = function() return k end, set = function(v) k = v end}
end
fs[1].set(100)
print(fs[1].get(), fs[2].get())
-- repeat loop locals
fs = {}
local n = 0
repeat
  n = n + 1
  local m = n * n
  fs[n] = function() return m end
until n == 3
print(fs[1](), fs[2](), fs[3]())
-- nested loops
local grid = {}
for a = 1, 2 do
  for b = 1, 2 do
    grid[#grid + 1] = function() return a * 10 + b end
  end
end
local out = {}
for _, f in ipairs(grid) do out[#out + 1] = f() end
print(table.concat(out, " "))
