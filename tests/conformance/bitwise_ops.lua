-- bitwise operators on integers
print(0xF0 & 0x3C, 0xF0 | 0x0F, 0xF0 ~ 0xFF, ~0, ~0xF)
print(1 << 0, 1 << 1, 1 << 62, 1 << 63, 1 << 64, 1 << 65, 1 << -1)
print(256 >> 4, 256 >> 9, -1 >> 1, -1 >> 63, -1 >> 64, 1 >> -3, -1 << 70)
print(5 & -1, -8 | 3, 6 ~ -1, math.mininteger >> 63, math.maxinteger << 1)
print(3.0 & 5, 2^10 | 0, pcall(function() return 1.5 | 0 end))
print(string.format("%x %x %x", 0xDEAD << 16 | 0xBEEF, ~0xFF & 0xFFFF, 0x1234 ~ 0xFFFF))
-- precedence: shifts bind tighter than &, which binds tighter than ~, then |
print(1 | 2 ~ 3 & 4 << 1, ((1 | 2) ~ 3) & 4)
-- popcount and bit reversal helpers
local function popcount(x) local c = 0 while x ~= 0 do c = c + (x & 1); x = x >> 1 end return c end
print(popcount(0), popcount(255), popcount(-1), popcount(math.mininteger))
local function rev8(b) local r = 0 for i = 0, 7 do if b & (1 << i) ~= 0 then r = r | (1 << (7 - i)) end end return r end
print(rev8(1), rev8(0x0F), rev8(0xA5))
-- xor swap and masks
local a, b = 12, 34
a = a ~ b; b = a ~ b; a = a ~ b
print(a, b)
print(0xFF & 0x80 ~= 0, (0x1234 >> 8) & 0xFF, 0x1234 & 0xFF)
-- unary not of floats
print(~1.0, pcall(function() return ~1.5 end))
print(pcall(function() return 1 << 2^64 end))
print(pcall(function() return "a" << 1 end))
