-- bitwise metamethods
local B = {}
local function box(v) return setmetatable({v = v}, B) end
local function val(x) return type(x) == "table" and x.v or x end
B.__band = function(a, b) return box(val(a) & val(b)) end
B.__bor = function(a, b) return box(val(a) | val(b)) end
B.__bxor = function(a, b) return box(val(a) ~ val(b)) end
B.__shl = function(a, b) return box(val(a) << val(b)) end
B.__shr = function(a, b) return box(val(a) >> val(b)) end
B.__bnot = function(a, b) return box(~val(a)), rawequal(a, b) end
local x = box(12)
print((x & 10).v, (x | 3).v, (x ~ 5).v, (x << 2).v, (x >> 2).v, (~x).v)
print((6 & x).v, (1 | x).v, (1 << x).v)
-- floats with exact integer values are fine; others error
print(3.0 & 1, pcall(function() return 1.5 & 1 end))
print(pcall(function() return {} & 1 end))
print(pcall(function() return 1 | nil end))
local s = setmetatable({}, {__shl = function(a, b) return "shl", type(a), type(b) end})
print(s << 1, 1 << s)
-- integer bitwise semantics
print(1 << 64, 1 << -1, -1 >> 60, 3 ~ 5, ~5, 0xF0 >> 4, 1 << 63 >> 63)
print(5 // 2 & 3, 2^2 | 0)
