-- matrix multiply, transpose, identity and determinant
local function matrix(n, m, f) local a = {} for i = 1, n do a[i] = {} for j = 1, m do a[i][j] = f(i, j) end end return a end
local function mul(a, b)
  local n, m, p = #a, #b, #b[1]
  return matrix(n, p, function(i, j) local s = 0 for k = 1, m do s = s + a[i][k] * b[k][j] end return s end)
end
local function transpose(a) return matrix(#a[1], #a, function(i, j) return a[j][i] end) end
local function show(a) for _, row in ipairs(a) do print(table.concat(row, " ")) end end
local A = matrix(3, 3, function(i, j) return i + j end)
local B = matrix(3, 2, function(i, j) return i * j end)
show(mul(A, B))
show(transpose(B))
local I = matrix(3, 3, function(i, j) return i == j and 1 or 0 end)
show(mul(A, I))
local function det(a)
  local n = #a
  if n == 1 then return a[1][1] end
  local d = 0
  for c = 1, n do
    local minor = {}
    for i = 2, n do
      local row = {}
      for j = 1, n do if j ~= c then row[#row + 1] = a[i][j] end end
      minor[#minor + 1] = row
    end
    d = d + ((c % 2 == 1) and 1 or -1) * a[1][c] * det(minor)
  end
  return d
end
print(det({{2, 0, 1}, {1, 3, 2}, {1, 1, 1}}), det(I), det({{1.5, 2}, {3, 4}}))
-- larger product checksum
local N = 30
local X = matrix(N, N, function(i, j) return (i * 7 + j * 3) % 11 - 5 end)
local Y = mul(X, transpose(X))
local sum = 0
for i = 1, N do for j = 1, N do sum = sum + Y[i][j] * ((i + j) % 3) end end
print(sum, Y[1][1], Y[N][N])
