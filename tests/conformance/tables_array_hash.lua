-- table constructors, array and hash parts, key normalisation
local t = {10, 20, 30, x = "x", ["y z"] = "yz", [1 + 3] = 40, [5.0] = 50}
print(t[1], t[2], t[3], t[4], t[5], t.x, t["y z"], #t)
t[6] = 60; t[7.0] = 70
print(#t, t[6], t[7], math.type(next({[7.0] = 1})))
-- trailing separators and mixed separators
local u = {1, 2; 3, n = 4;}
print(#u, u.n)
-- positional fields override explicit ones assigned earlier in same constructor
local v = {[1] = "explicit", "positional"}
print(v[1])
-- nil and NaN keys
print(pcall(function() local w = {}; w[nil] = 1 end))
print(pcall(function() local w = {}; w[0/0] = 1 end))
local w = {}
print(w[nil], w[0/0])
-- keys of different types
local k = {}
k[1] = "int"; k["1"] = "str"; k[true] = "bool"; k[k] = "self"; k[1.5] = "float"
print(k[1], k["1"], k[true], k[k], k[1.5], k[1.0])
-- counting entries with pairs
local n = 0
for _ in pairs(k) do n = n + 1 end
print(n)
-- growing and shrinking
local a = {}
for i = 1, 1000 do a[i] = i * i end
print(#a, a[1000])
for i = 1000, 501, -1 do a[i] = nil end
print(#a)
-- large hash
local h = {}
for i = 1, 500 do h["k" .. i] = i end
local s = 0
for _, val in pairs(h) do s = s + val end
print(s, h.k250)
-- nested tables
local m = {{1, 2}, {3, 4, {5}}}
print(m[2][3][1], #m[2])
-- assignment to the same key multiple times
local z = {}
z.a = 1; z.a = nil; z.a = 2
print(z.a, next({}) == nil)
