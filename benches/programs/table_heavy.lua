-- Measures table operations: array appends, string-keyed hash lookups, traversal and sort.
local N = tonumber(arg and arg[1]) or 300000
local seed = 42
local function rand() seed = (seed * 1103515245 + 12345) % 2147483648; return seed end
-- Array part: append, read back, insert/remove at the end.
local arr = {}
for i = 1, N do arr[#arr + 1] = rand() % 100000 end
local sum = 0
for i = 1, #arr do sum = sum + arr[i] end
for _ = 1, N // 4 do table.insert(arr, table.remove(arr) + 1) end
-- Hash part with string keys.
local dict = {}
for i = 1, N do dict["key" .. (i % 50000)] = (dict["key" .. (i % 50000)] or 0) + i end
local hits = 0
for i = 1, N do if dict["key" .. (rand() % 60000)] then hits = hits + 1 end end
local dsum = 0
for _, v in pairs(dict) do dsum = (dsum + v) % 1000000007 end
-- Records: tables with named fields, updated in place.
local recs = {}
for i = 1, N // 4 do recs[i] = {id = i, score = rand() % 1000, name = "r" .. i} end
for _ = 1, 3 do for _, r in ipairs(recs) do r.score = (r.score * 7 + r.id) % 1000 end end
-- Sorting: numbers, then records with a comparator.
table.sort(arr)
table.sort(recs, function(a, b) if a.score ~= b.score then return a.score < b.score end return a.id < b.id end)
-- Integer-keyed hash (sparse) and deletion.
local sparse = {}
for i = 1, N // 2 do sparse[i * 7919 % 1000003] = i end
local removed = 0
for k in pairs(sparse) do if k % 3 == 0 then sparse[k] = nil; removed = removed + 1 end end
print(sum, hits, dsum, arr[1], arr[#arr], recs[1].id, recs[#recs].id, removed)
