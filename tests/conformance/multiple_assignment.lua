-- multiple assignment: all expressions are evaluated before assignment
local a, b, c = 1, 2
print(a, b, c)
a, b = b, a
print(a, b)
local x, y = 1, 2, 3
print(x, y)
local function mr() return 10, 20, 30 end
local p, q, r, s = mr()
print(p, q, r, s)
p, q, r, s = mr(), 5
print(p, q, r, s)
p, q, r, s = 0, mr()
print(p, q, r, s)
p, q = (mr())
print(p, q)
-- table swaps
local t = {1, 2, 3}
t[1], t[3] = t[3], t[1]
print(t[1], t[2], t[3])
-- index expressions are evaluated before assignment
local i = 1
i, t[i] = i + 1, "changed"
print(i, t[1], t[2])
-- rotating values
local u, v, w = "u", "v", "w"
u, v, w = v, w, u
print(u, v, w)
-- assignment to globals and locals mixed
g1, local_ = 5, 6
print(g1, local_)
-- nested table fields
local n = {inner = {}}
n.inner.a, n.inner.b = "A", "B"
print(n.inner.a, n.inner.b)
-- fewer values than names
local k1, k2, k3 = (function() return 1 end)()
print(k1, k2, k3)
-- varargs in assignment
local function va(...) local m1, m2 = ... return m1, m2 end
print(va(7), va(7, 8, 9))
