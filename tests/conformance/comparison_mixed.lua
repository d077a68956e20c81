-- comparisons between integers and floats, including values beyond 2^53
print(1 == 1.0, 1 < 1.5, 2 > 1.5, -1 < -0.5, 0 == -0.0, 1 <= 1.0)
print(2^53 == 2^53 + 1, math.tointeger(2^53) + 1 == 2^53 + 1, 9007199254740993 == 2^53)
print(9007199254740993 < 2^53 + 2, 9007199254740993 > 2^53)
print(math.maxinteger + 0.0 == 2^63, math.maxinteger < 2^63, math.maxinteger + 0.0 == math.maxinteger)
print(math.mininteger == -2^63, math.mininteger < -2^63, math.mininteger <= -2^63)
print(math.maxinteger < math.huge, math.mininteger > -math.huge, 1 < 0/0, 1 > 0/0, 0/0 == 0/0)
print(math.maxinteger > 9.2233720368547e18, math.maxinteger - 1 < 2^63)
print(1e308 > math.maxinteger, -1e308 < math.mininteger)
print(3 == 3.0000000000000001, 3 < 3.0000000000001)
-- equality never converts strings
print(1 == "1", "1" == 1, 0 == false, nil == false)
-- sorting mixed numbers
local t = {3, 2.5, -1, 2^53, 1e-3, 0, -2.5, math.maxinteger, math.mininteger}
table.sort(t)
local out = {}
for i, v in ipairs(t) do out[i] = tostring(v) end
print(table.concat(out, " "))
-- max/min preserve subtypes
print(math.max(1, 2.0), math.max(2, 1.0), math.min(1, 1.0), math.min(1.0, 1))
