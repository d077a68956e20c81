-- numeric for loops: steps, types, evaluation once, loop var is a copy
for i = 1, 3 do io.write(i, " ") end print()
for i = 3, 1, -1 do io.write(i, " ") end print()
for i = 1, 10, 4 do io.write(i, " ") end print()
for i = 1, 0 do io.write("never") end print("empty ok")
for i = 1.0, 2 do io.write(i, " ") end print()
for i = 1, 2.5 do io.write(i, " ", math.type(i), " ") end print()
for i = 1, 2, 0.5 do io.write(i, " ") end print()
local calls = 0
local function lim() calls = calls + 1; return 5 end
for i = 1, lim() do end
print("limit evaluated", calls)
for i = 1, 3 do
  local j = i
  i = i * 10 -- modifying the control variable does not affect the loop
  io.write(j, ":", i, " ")
end
print()
print(pcall(function() for i = 1, 10, 0 do end end))
print(pcall(function() for i = "a", 2 do end end))
print(pcall(function() for i = 1, {} do end end))
print(pcall(function() for i = 1, 2, nil do end end))
-- numeric strings are converted (giving a float loop)
for i = "1", 2 do io.write(i, " ", math.type(i), " ") end print()
-- float limit with integer loop: floor/ceil of limit
for i = 1, 3.9 do io.write(i, " ") end print()
for i = 3, 0.1, -1 do io.write(i, " ") end print()
local n = 0
for i = -5, 5 do n = n + i end
print(n)
for i = 1, math.huge do if i > 3 then break end io.write(i, " ") end print()
for i = -1, -math.huge, -1 do if i < -3 then break end io.write(i, " ") end print()
