-- float keys with integral values are normalised to integers
local t = {}
t[1.0] = "one"
print(t[1], t[1.0], rawget(t, 1), #t)
t[2] = "two"
print(t[2.0], #t)
local k = next({[3.0] = true})
print(k, math.type(k))
t[1.5] = "one and a half"
print(t[1.5], t[3 / 2])
-- 2^53 as float and integer
t[2^53] = "big"
print(t[9007199254740992], math.type(next({[2^53] = 1})))
-- large floats that do not fit an integer stay floats
local huge = {}
huge[2^63] = "f"
print(huge[2^63], math.type(next(huge)))
-- -0.0 and 0 are the same key
local z = {}
z[0] = "zero"
print(z[-0.0], z[0.0])
z[-0.0] = "neg zero"
print(z[0], math.type(next(z)))
-- string keys are distinct from numeric keys
local s = {}
s["1"] = "string"; s[1] = "number"
print(s["1"], s[1])
-- ipairs sees float-keyed entries
local arr = {}
arr[1.0] = "a"; arr[2.0] = "b"; arr[3] = "c"
local out = {}
for i, v in ipairs(arr) do out[#out + 1] = i .. v end
print(table.concat(out, " "))
-- table constructor with float keys
local c = {[1.0] = "x", [2] = "y"}
print(#c, c[1], c[2])
-- computed keys
local m = {}
for i = 1, 3 do m[i / 1] = i end
print(#m, m[1], m[3])
