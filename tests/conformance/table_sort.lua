-- table.sort with default and custom comparators
local t = {5, 2, 8, 1, 9, 3}
table.sort(t)
print(table.concat(t, " "))
table.sort(t, function(a, b) return a > b end)
print(table.concat(t, " "))
local s = {"pear", "apple", "fig", "banana"}
table.sort(s)
print(table.concat(s, " "))
table.sort(s, function(a, b) return #a < #b or (#a == #b and a < b) end)
print(table.concat(s, " "))
-- 1000 pseudo-random numbers from an LCG
local seed = 12345
local function lcg() seed = (seed * 1103515245 + 12345) % 2147483648; return seed end
local nums = {}
for i = 1, 1000 do nums[i] = lcg() % 10000 end
table.sort(nums)
local ok = true
for i = 2, #nums do if nums[i - 1] > nums[i] then ok = false end end
print(ok, nums[1], nums[500], nums[1000])
local sum = 0
for i = 1, #nums do sum = sum + nums[i] * i end
print(sum)
-- sorting records by field
local recs = {}
for i = 1, 20 do recs[i] = {id = i, key = (i * 7) % 11} end
table.sort(recs, function(a, b) if a.key ~= b.key then return a.key < b.key end return a.id < b.id end)
local ids = {}
for i, r in ipairs(recs) do ids[i] = r.id end
print(table.concat(ids, ","))
-- mixed ints and floats
local m = {3, 1.5, 2, 0.5, -1}
table.sort(m)
print(table.concat(m, " "))
-- errors
print(pcall(table.sort, {1, "x", 2}))
print(pcall(table.sort, {{}, {}}))
local ok2, e = pcall(table.sort, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, function(a, b) return true end)
print(ok2, e)
print(pcall(table.sort, {3, 2, 1}, 42))
-- already sorted / reversed / all equal / empty
local asc, desc, eq = {}, {}, {}
for i = 1, 200 do asc[i] = i; desc[i] = 201 - i; eq[i] = 7 end
table.sort(asc); table.sort(desc); table.sort(eq); table.sort({})
print(asc[1], asc[200], desc[1], desc[200], eq[100])
