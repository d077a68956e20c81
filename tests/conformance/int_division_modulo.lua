-- floor division and modulo over a grid of signs and types
local vals = {7, -7, 3, -3, 1, -1}
for _, a in ipairs({7, -7, 0}) do
  local row = {}
  for _, b in ipairs({3, -3, 1, -1, 2}) do
    row[#row + 1] = string.format("%d//%d=%d %d%%%d=%d", a, b, a // b, a, b, a % b)
  end
  print(table.concat(row, "  "))
end
for _, a in ipairs({7.5, -7.5, 0.0, -0.0}) do
  local row = {}
  for _, b in ipairs({2, -2, 0.5, math.huge, -math.huge}) do
    row[#row + 1] = tostring(a // b) .. "," .. tostring(a % b)
  end
  print(table.concat(row, "  "))
end
-- identity a == (a // b) * b + a % b for integers
local ok = true
for a = -20, 20 do
  for b = -6, 6 do
    if b ~= 0 and a ~= (a // b) * b + a % b then ok = false end
  end
end
print("identity", ok, #vals)
print(math.mininteger // -1, math.mininteger % -1, math.maxinteger // -1)
print(pcall(function() return 1 // 0 end))
print(pcall(function() return 1 % 0 end))
print(1 // 0.0, -1 // 0.0, 0.0 / 0.0 ~= 0.0 / 0.0, 1 % 0.0 ~= 1 % 0.0)
print(5 / 2, 4 / 2, -5 / 2, math.type(4 / 2), 3 // 2.0, 3.0 % 2)
print(2^63 // 1, -(2^63) // 3, 1e308 % 3)
