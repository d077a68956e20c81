-- binary min-heap priority queue and heap sort
local Heap = {}
Heap.__index = Heap
function Heap.new(cmp) return setmetatable({n = 0, cmp = cmp or function(a, b) return a < b end}, Heap) end
function Heap:push(v)
  self.n = self.n + 1
  local i = self.n
  self[i] = v
  while i > 1 do
    local p = i // 2
    if self.cmp(self[i], self[p]) then self[i], self[p] = self[p], self[i]; i = p else break end
  end
end
function Heap:pop()
  if self.n == 0 then return nil end
  local top = self[1]
  self[1] = self[self.n]
  self[self.n] = nil
  self.n = self.n - 1
  local i = 1
  while true do
    local l, r, s = 2 * i, 2 * i + 1, i
    if l <= self.n and self.cmp(self[l], self[s]) then s = l end
    if r <= self.n and self.cmp(self[r], self[s]) then s = r end
    if s == i then break end
    self[i], self[s] = self[s], self[i]
    i = s
  end
  return top
end
local h = Heap.new()
for _, v in ipairs({5, 3, 8, 1, 9, 2, 7}) do h:push(v) end
local out = {}
while h.n > 0 do out[#out + 1] = h:pop() end
print(table.concat(out, " "))
-- max-heap of records
local mh = Heap.new(function(a, b) return a.pri > b.pri or (a.pri == b.pri and a.name < b.name) end)
for i, name in ipairs({"low", "high", "mid", "urgent", "also-mid"}) do
  mh:push({name = name, pri = ({1, 5, 3, 9, 3})[i]})
end
local names = {}
while mh.n > 0 do names[#names + 1] = mh:pop().name end
print(table.concat(names, " "))
-- heap sort of LCG data compared with table.sort
local seed, data = 1, {}
for i = 1, 2000 do seed = (seed * 16807) % 2147483647; data[i] = seed % 100000 end
local hs = Heap.new()
for _, v in ipairs(data) do hs:push(v) end
local sorted = {}
while hs.n > 0 do sorted[#sorted + 1] = hs:pop() end
table.sort(data)
local same = #sorted == #data
for i = 1, #data do if data[i] ~= sorted[i] then same = false end end
print(same, sorted[1], sorted[1000], sorted[2000])
