-- math.random ranges (values themselves are not printed)
math.randomseed(42)
local ok = true
for _ = 1, 1000 do
  local x = math.random()
  if not (x >= 0 and x < 1) or math.type(x) ~= "float" then ok = false end
end
print("random()", ok)
ok = true
local seen = {}
for _ = 1, 1000 do
  local x = math.random(6)
  if not (x >= 1 and x <= 6) or math.type(x) ~= "integer" then ok = false end
  seen[x] = true
end
print("random(6)", ok, #seen)
ok = true
for _ = 1, 1000 do
  local x = math.random(-3, 3)
  if x < -3 or x > 3 then ok = false end
end
print("random(-3,3)", ok)
print(math.random(5, 5), math.random(1, 1))
print(math.type(math.random(0)))
local big = math.random(math.mininteger, math.maxinteger)
print(math.type(big))
print(pcall(math.random, 0, -1))
print(pcall(math.random, 2, 1))
print(pcall(math.random, 1, 2, 3))
print(pcall(math.random, 1.5))
print(math.type(select(2, pcall(math.random, 0))))
-- same seed gives the same sequence
math.randomseed(123)
local a = {math.random(100), math.random(100), math.random(100)}
math.randomseed(123)
local b = {math.random(100), math.random(100), math.random(100)}
print(a[1] == b[1] and a[2] == b[2] and a[3] == b[3])
math.randomseed(7, 8)
local c1 = math.random(1000)
math.randomseed(7, 8)
print(c1 == math.random(1000))
-- randomseed without arguments is allowed
print((pcall(math.randomseed)))
