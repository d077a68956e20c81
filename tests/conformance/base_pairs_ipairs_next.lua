-- pairs, ipairs, next (including __pairs)
local t = {10, 20, 30, a = 1, b = 2}
local keys = {}
for k, v in pairs(t) do keys[#keys + 1] = tostring(k) .. "=" .. tostring(v) end
table.sort(keys)
print(table.concat(keys, " "))
local n = 0
local k, v = next(t)
while k ~= nil do n = n + 1; k, v = next(t, k) end
print(n, next({}), next({}, nil))
print(rawequal(pairs(t), next), select("#", pairs(t)))
-- ipairs stops at the first nil
local arr = {1, 2, nil, 4}
local c = 0
for i, x in ipairs(arr) do c = c + 1 end
print(c)
-- ipairs respects __index (5.4)
local proxy = setmetatable({}, {__index = function(_, i) if i <= 3 then return i * 100 end end})
for i, x in ipairs(proxy) do io.write(i, ":", x, " ") end print()
-- __pairs metamethod
local p = setmetatable({}, {__pairs = function(tbl) return function(_, k2) if not k2 then return 1, "one" elseif k2 < 3 then return k2 + 1, "more" end end, tbl, nil end})
for a, b in pairs(p) do io.write(a, b, " ") end print()
-- modifying existing fields during traversal is allowed
local m = {}
for i = 1, 20 do m["k" .. i] = i end
for key in pairs(m) do m[key] = nil end
print(next(m))
-- next with invalid key
print(pcall(next, {}, "missing"))
print(pcall(pairs))
print(pcall(ipairs))
-- ipairs on strings errors when indexing? strings have __index, so it works as zero iterations
print(pcall(function() local cnt = 0 for _ in ipairs("abc") do cnt = cnt + 1 end return cnt end))
-- pairs visits every entry of a sequence exactly once (its order is unspecified, so sort)
local seq = {"a", "b", "c", "d"}
local out = {}
for i, x in pairs(seq) do out[#out + 1] = i .. x end
table.sort(out)
print(table.concat(out, " "))
