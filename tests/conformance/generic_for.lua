-- generic for: iterator protocol, stateless and stateful iterators, closing value
local function range(n)
  local i = 0
  return function()
    i = i + 1
    if i <= n then return i end
  end
end
for i in range(4) do io.write(i, " ") end print()
local function iter(s, c)
  if c < s then return c + 1, c * c end
end
for a, b in iter, 5, 0 do io.write(a, "=", b, " ") end print()
for i, v in ipairs({"a", "b", "c", nil, "e"}) do io.write(i, v, " ") end print()
-- extra variables are nil
for a, b, c in range(2) do io.write(tostring(a), tostring(b), tostring(c), " ") end print()
-- fourth value is a to-be-closed variable
local closed = false
do
  local tbc = setmetatable({}, {__close = function() closed = true end})
  for i in range(3), nil, nil, tbc do
    if i == 2 then break end
  end
end
print("closed", closed)
-- sorted keys through pairs
local t = {x = 1, y = 2, z = 3, 10, 20}
local keys = {}
for k in pairs(t) do keys[#keys + 1] = tostring(k) end
table.sort(keys)
print(table.concat(keys, ","))
-- the variable-name part of this message differs between 5.4 releases
local ok, msg = pcall(function() for x in 42 do end end)
print(ok, msg:match("^generic_for%.lua:%d+: attempt to call a number value") ~= nil)
ok, msg = pcall(function() for x in nil do end end)
print(ok, msg:match("^generic_for%.lua:%d+: attempt to call a nil value") ~= nil)
-- string.gmatch as iterator
for w in string.gmatch("one two three", "%a+") do io.write(w, ".") end print()
-- iterator returning multiple values
local function pairsish(t)
  local i = 0
  return function() i = i + 1; if t[i] then return i, t[i], t[i] * 2 end end
end
for i, v, d in pairsish({5, 6, 7}) do io.write(i, v, d, " ") end print()
