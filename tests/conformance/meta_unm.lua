-- __unm and unary minus semantics
local N = {}
N.__unm = function(a) return setmetatable({v = -a.v}, N) end
local n = setmetatable({v = 5}, N)
print((-n).v, (-(-n)).v)
-- second argument to __unm is the operand itself
local seen
local S = setmetatable({}, {__unm = function(a, b) seen = rawequal(a, b); return "neg" end})
print(-S, seen)
print(-5, -5.5, -(-5), - -5, -0.0, -0, -math.mininteger)
print(-"3", -"3.5", math.type(-"3"))
print(pcall(function() return -{} end))
print(pcall(function() local s = "abc"; return -s end))
print(pcall(function() return -nil end))
-- __bnot
local B = setmetatable({}, {__bnot = function() return "bnot" end})
print(~B, ~0, ~-1)
print(pcall(function() return ~1.5 end))
print(pcall(function() return ~{} end))
