-- __idiv, __mod, __div and their numeric fallbacks
local M = {}
M.__idiv = function(a, b) return "idiv" end
M.__mod = function(a, b) return "mod" end
M.__div = function(a, b) return "div" end
local m = setmetatable({}, M)
print(m // 1, 1 // m, m % 2, 2 % m, m / 3, 3 / m)
-- integer division and modulo follow floor semantics
for _, p in ipairs({{7, 3}, {-7, 3}, {7, -3}, {-7, -3}}) do
  local a, b = p[1], p[2]
  io.write(a, "//", b, "=", a // b, " ", a, "%", b, "=", a % b, "; ")
end
print()
for _, p in ipairs({{7.5, 2}, {-7.5, 2}, {7.5, -2}, {-7.5, -2}}) do
  local a, b = p[1], p[2]
  io.write(a, "//", b, "=", a // b, " ", a, "%", b, "=", a % b, "; ")
end
print()
print(5 % 0.0 ~= 5 % 0.0, 5 // 0.0, -5 % math.huge, 5 % -math.huge)
print(pcall(function() return 5 // 0 end))
print(pcall(function() return 5 % 0 end))
print(math.fmod(7, 3), math.fmod(-7, 3), math.fmod(7, -3), math.fmod(-7.5, 2))
print(pcall(math.fmod, 1, 0))
print(math.fmod(1, 0.0) ~= math.fmod(1, 0.0), math.fmod(math.mininteger, -1))
-- a // b == floor(a / b) for floats
print(7.0 // 0.5, 1e308 // 1e-308, -0.5 // 1)
