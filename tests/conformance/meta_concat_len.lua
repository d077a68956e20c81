-- __concat and __len
local C = {}
C.__concat = function(a, b)
  local function s(x) return type(x) == "table" and ("[" .. x.name .. "]") or tostring(x) end
  return s(a) .. s(b)
end
local function obj(n) return setmetatable({name = n}, C) end
local a, b = obj("a"), obj("b")
print(a .. b, a .. "x", "x" .. a, 1 .. a, a .. 2.5)
-- concatenation is right associative: "x" .. a .. "y" == "x" .. (a .. "y")
print("x" .. a .. "y")
print("p" .. "q" .. a .. "r" .. "s")
print(pcall(function() return {} .. "x" end))
print(pcall(function() return "x" .. nil end))
print(pcall(function() return true .. "" end))
local L = setmetatable({1, 2, 3}, {__len = function(t) return rawlen(t) * 10 end})
print(#L, rawlen(L))
local S = setmetatable({}, {__len = function() return "not a number" end})
print(#S)
-- __len on non-tables via debug.setmetatable is not tested; strings have built-in length
print(#"abc")
-- __concat returning non-string
local N = setmetatable({}, {__concat = function() return 42 end})
print(N .. "z", math.type(N .. "z"))
