-- while loops and break
local i, s = 0, 0
while i < 10 do
  i = i + 1
  if i % 2 == 0 then s = s + i end
end
print(i, s)
local n = 0
while true do
  n = n + 1
  if n > 100 then break end
end
print(n)
-- break only exits the innermost loop
local pairs_found = {}
for a = 1, 4 do
  local b = 1
  while true do
    if b > a then break end
    if a + b == 5 then pairs_found[#pairs_found + 1] = a .. "+" .. b end
    b = b + 1
  end
end
print(table.concat(pairs_found, " "))
-- while with complex condition and short circuit
local t = {3, 1, 4, 1, 5, nil, 9}
local idx = 1
while t[idx] and t[idx] ~= 5 do idx = idx + 1 end
print(idx)
-- break as last statement, and break followed by other code in a block
local x = 0
while x < 5 do
  x = x + 1
  if x == 3 then do break end end
end
print(x)
print(load("break"))
print(load("if true then break end"))
print(load("function f() break end"))
