-- table constructor semantics
local function three() return 1, 2, 3 end
local t = {three()}
print(#t)
t = {three(), three()}
print(#t, t[1], t[2], t[4])
t = {(three())}
print(#t)
t = {three(), "x"}
print(#t, t[2])
-- (repeated keys are avoided: their assignment order is undefined by the manual)
t = {[0] = "a", [-1] = "b", "c"}
print(t[0], t[-1], t[1])
-- fields are evaluated left to right
local i = 0
local function nxt() i = i + 1; return i end
t = {nxt(), nxt(), [nxt() + 10] = "k", nxt()}
print(t[1], t[2], t[3], t[13])
-- nested and mixed
local m = {1, {2, {3, {4}}}, name = {first = "a", last = "b"}; 5}
print(m[2][2][2][1], m.name.last, m[3], #m)
-- expressions as keys
local k = "dyn"
local d = {[k .. "amic"] = true, [1 + 1] = "two", [true] = "yes", [2.0 ^ 2] = "float four"}
print(d.dynamic, d[2], d[true], d[4])
-- empty and large constructors
local e = {}
print(next(e), #e)
local big = {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60}
print(#big, big[60])
-- nil values in constructor
local n = {1, nil, 3}
print(n[1], n[2], n[3])
local v = {n = select("#", nil, nil), nil, nil}
print(v.n)
-- functions and methods inside constructors
local obj = {value = 3, get = function(self) return self.value end}
print(obj:get())
-- trailing vararg expands
local function f(...) return {...} end
print(#f(1, 2, 3, 4))
-- more than 50 elements followed by a multi-value call (setlist batching)
local many = {0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,three()}
print(#many, many[53], many[55])
