-- __eq, __lt, __le
local P = {}
P.__eq = function(a, b) return a.k == b.k end
P.__lt = function(a, b) return a.k < b.k end
P.__le = function(a, b) return a.k <= b.k end
local function p(k) return setmetatable({k = k}, P) end
local a, b, c = p(1), p(2), p(1)
print(a == c, a ~= c, a == b, a < b, b < a, a <= c, b <= a, a > b, b >= a)
-- __eq is not called for primitive equality or different types
print(a == 1, rawequal(a, c), a == a)
-- __eq only used when both are tables (or both userdata)
local calls = 0
local E = {__eq = function() calls = calls + 1; return true end}
local x, y = setmetatable({}, E), {}
print(x == y, y == x, calls)
-- result is converted to boolean
local T = {__lt = function() return "yes" end, __le = function() return nil end}
local t1, t2 = setmetatable({}, T), setmetatable({}, T)
print(t1 < t2, t1 <= t2, t1 > t2, t1 >= t2)
-- 5.4 does not emulate __le with __lt
local OnlyLt = {__lt = function(a, b) return true end}
print(pcall(function() return setmetatable({}, OnlyLt) <= setmetatable({}, OnlyLt) end))
print(pcall(function() return {} < {} end))
print(pcall(function() return {} <= 1 end))
print(pcall(function() return 1 < "2" end))
print(pcall(function() return "a" < 1 end))
print("a" < "b", "abc" < "abd", "" < "a", "Z" < "a", "10" < "9")
-- mixed metamethod with numbers
local M = {__lt = function(a, b) return (type(a) == "table" and a.v or a) < (type(b) == "table" and b.v or b) end}
local m = setmetatable({v = 5}, M)
print(m < 10, 3 < m, m > 4)
