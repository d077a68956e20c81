-- integer arithmetic wraps around modulo 2^64
local max, min = math.maxinteger, math.mininteger
print(max + 1 == min, min - 1 == max, max * 2, min * -1)
print(max + 1, min - 1, -min, math.abs(min))
print(max * max, min * min, 0x7fffffff * 0x7fffffff)
print(min // -1, min % -1)
print(pcall(function() return min // 0 end))
print(pcall(function() return 1 % 0 end))
print(max + 0.0, min + 0.0, max // 1, max / 1)
print(1 << 63, (1 << 63) - 1, 1 << 64, -1 >> 1)
local x = 1
for _ = 1, 70 do x = x * 2 end
print(x)
local h = 0
for i = 1, 100 do h = h * 31 + i end
print(h)
-- string to integer conversions keep wrapping semantics
print(math.tointeger("9223372036854775807"), tonumber("9223372036854775808"))
print(("%d"):format(min), ("%x"):format(-1))
