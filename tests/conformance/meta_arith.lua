-- arithmetic metamethods
local V = {}
V.__index = V
local function vec(x, y) return setmetatable({x = x, y = y}, V) end
local function show(v) return type(v) == "table" and ("(" .. v.x .. "," .. v.y .. ")") or tostring(v) end
V.__add = function(a, b)
  if type(a) == "number" then return vec(a + b.x, a + b.y) end
  if type(b) == "number" then return vec(a.x + b, a.y + b) end
  return vec(a.x + b.x, a.y + b.y)
end
V.__sub = function(a, b) return vec(a.x - b.x, a.y - b.y) end
V.__mul = function(a, b)
  if type(b) == "number" then return vec(a.x * b, a.y * b) end
  if type(a) == "number" then return vec(b.x * a, b.y * a) end
  return a.x * b.x + a.y * b.y
end
V.__div = function(a, b) return vec(a.x / b, a.y / b) end
V.__mod = function(a, b) return vec(a.x % b, a.y % b) end
V.__pow = function(a, b) return vec(a.x ^ b, a.y ^ b) end
local a, b = vec(1, 2), vec(3, 4)
print(show(a + b), show(a + 1), show(10 + a), show(b - a))
print(a * b, show(a * 3), show(2 * b), show(b / 2), show(b % 3), show(a ^ 2))
-- metamethod looked up on the second operand when first has none
local M = setmetatable({}, {__add = function(x, y) return "right:" .. type(x) .. "," .. type(y) end})
print(1 + M, "s" + M, M + M)
-- numeric strings do not trigger table metamethods
print(pcall(function() return {} + 1 end))
print(pcall(function() return a + "x" end))
-- metamethods can return multiple values but only first is used
local R = setmetatable({}, {__sub = function() return 1, 2, 3 end})
print(R - R)
-- metamethods are raw-looked up in the metatable (no __index chain)
local base = {__add = function() return "inherited" end}
local mt = setmetatable({}, {__index = base})
print(pcall(function() return setmetatable({}, mt) + 1 end))
-- error when neither operand has metamethod
print(pcall(function() local t = {} return t * 2 end))
print(pcall(function() return nil - 1 end))
