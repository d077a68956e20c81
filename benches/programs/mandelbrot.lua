-- Measures float arithmetic in nested loops and bit operations: Benchmarks Game mandelbrot (checksum only).
local N = tonumber(arg and arg[1]) or 1200
local iter = 50
local checksum = 0
for y = 0, N - 1 do
  local Ci = 2 * y / N - 1
  local bits, nbits = 0, 0
  for x = 0, N - 1 do
    local Cr = 2 * x / N - 1.5
    local Zr, Zi, Tr, Ti = 0.0, 0.0, 0.0, 0.0
    local i = 0
    while i < iter and Tr + Ti <= 4.0 do
      Zi = 2 * Zr * Zi + Ci
      Zr = Tr - Ti + Cr
      Tr = Zr * Zr
      Ti = Zi * Zi
      i = i + 1
    end
    bits = (bits << 1) | ((Tr + Ti <= 4.0) and 1 or 0)
    nbits = nbits + 1
    if nbits == 8 or x == N - 1 then
      bits = bits << (8 - nbits)
      checksum = (checksum * 31 + bits) % 1000000007
      bits, nbits = 0, 0
    end
  end
end
print(N, checksum)
