-- integer for loops near the limits must not wrap around
local count = 0
for i = math.maxinteger - 2, math.maxinteger do count = count + 1 end
print(count)
count = 0
for i = math.mininteger, math.mininteger + 2 do count = count + 1 end
print(count)
count = 0
for i = math.mininteger + 2, math.mininteger, -1 do count = count + 1 end
print(count)
count = 0
for i = math.maxinteger - 10, math.maxinteger, 7 do count = count + 1; io.write(i - math.maxinteger, " ") end
print(count)
count = 0
for i = 1, math.maxinteger, math.maxinteger // 2 do count = count + 1 end
print(count)
count = 0
for i = math.maxinteger, math.maxinteger - 1 do count = count + 1 end
print(count)
count = 0
for i = -1, math.mininteger, math.mininteger do count = count + 1 end
print(count)
count = 0
for i = 0, math.maxinteger, math.maxinteger do count = count + 1 end
print(count)
-- float limits beyond the integer range are clipped
count = 0
for i = math.maxinteger - 1, 1e100 do count = count + 1 end
print(count)
count = 0
for i = math.mininteger + 1, -1e100, -1 do count = count + 1 end
print(count)
-- loop with limit smaller than start after clipping does not execute
count = 0
for i = 1, -1e100 do count = count + 1 end
print(count)
for i = math.maxinteger, 1e100, math.maxinteger do io.write(i, " ") end print()
