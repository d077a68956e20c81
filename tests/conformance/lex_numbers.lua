-- numeric literal forms: decimal, hex, exponents, hex floats
print(3, 345, 0xff, 0xBEBADA)
print(3.0, 3.1416, 314.16e-2, 0.31416E1, 34e1)
print(0x0.1E, 0xA23p-4, 0X1.921FB54442D18P+1)
print(.5, 5., 1e0, 1E+2, 2e-1)
print(math.type(3), math.type(3.0), math.type(0x10), math.type(1e2))
-- hex integers wrap around modulo 2^64
print(0xffffffffffffffff, 0x7fffffffffffffff, 0x8000000000000000)
print(0x10000000000000000)
-- decimal integers that overflow become floats
print(9223372036854775807, 9223372036854775808)
print(math.type(9223372036854775807), math.type(9223372036854775808))
print(-9223372036854775808, math.type(-9223372036854775808))
print(1e308 * 10, -1e308 * 10)
print(0x.8, 0x8., 0x1p4, 0x1P-1)
print(000123, 0.0, -0.0)
print(1//1, 1.0//1, 7 // 2, 7.0 // 2)
-- numbers next to operators
local a = 1; print(a-1, a- -1, 2^-1)
print(tonumber("0x1p4"), tonumber("1e1"), tonumber(" 10 "), tonumber("10."))
print(3 == 3.0, 0x10 == 16, 1e2 == 100)
