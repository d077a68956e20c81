-- generators built from coroutines: permutations, fibonacci, tree walk
local function permgen(a, n)
  n = n or #a
  if n <= 1 then coroutine.yield(a) else
    for i = 1, n do
      a[n], a[i] = a[i], a[n]
      permgen(a, n - 1)
      a[n], a[i] = a[i], a[n]
    end
  end
end
local function permutations(a)
  return coroutine.wrap(function() permgen(a) end)
end
local perms = {}
for p in permutations({"a", "b", "c"}) do perms[#perms + 1] = table.concat(p) end
table.sort(perms)
print(#perms, table.concat(perms, " "))
local function fibgen()
  return coroutine.wrap(function()
    local a, b = 0, 1
    while true do coroutine.yield(a); a, b = b, a + b end
  end)
end
local g = fibgen()
local fibs = {}
for _ = 1, 15 do fibs[#fibs + 1] = g() end
print(table.concat(fibs, ","))
-- in-order traversal of a binary tree via recursive yields
local function insert(node, v)
  if not node then return {v = v} end
  if v < node.v then node.l = insert(node.l, v) else node.r = insert(node.r, v) end
  return node
end
local root
for _, v in ipairs({50, 30, 70, 20, 40, 60, 80, 35, 65}) do root = insert(root, v) end
local function walk(n) if n then walk(n.l); coroutine.yield(n.v); walk(n.r) end end
local seq = {}
for v in coroutine.wrap(function() walk(root) end) do seq[#seq + 1] = v end
print(table.concat(seq, " "))
-- interleaving two generators
local function count_from(s, step)
  return coroutine.wrap(function() local i = s while true do coroutine.yield(i) i = i + step end end)
end
local evens, odds = count_from(0, 2), count_from(1, 2)
local mix = {}
for _ = 1, 5 do mix[#mix + 1] = evens(); mix[#mix + 1] = odds() end
print(table.concat(mix, " "))
-- sieve of primes with chained coroutine filters
local function gen(n) return coroutine.wrap(function() for i = 2, n do coroutine.yield(i) end end) end
local function filt(p, g2) return coroutine.wrap(function() for x in g2 do if x % p ~= 0 then coroutine.yield(x) end end end) end
local primes = {}
local src = gen(60)
while true do
  local p = src()
  if not p then break end
  primes[#primes + 1] = p
  src = filt(p, src)
end
print(table.concat(primes, " "))
