-- LRU cache with a doubly linked list and a hash map
local LRU = {}
LRU.__index = LRU
function LRU.new(cap)
  local head, tail = {}, {}
  head.next, tail.prev = tail, head
  return setmetatable({cap = cap, size = 0, map = {}, head = head, tail = tail}, LRU)
end
local function unlink(n) n.prev.next, n.next.prev = n.next, n.prev end
function LRU:_front(n) n.next, n.prev = self.head.next, self.head; self.head.next.prev = n; self.head.next = n end
function LRU:get(k)
  local n = self.map[k]
  if not n then return nil end
  unlink(n); self:_front(n)
  return n.v
end
function LRU:put(k, v)
  local n = self.map[k]
  if n then n.v = v; unlink(n); self:_front(n); return end
  if self.size == self.cap then
    local last = self.tail.prev
    unlink(last); self.map[last.k] = nil; self.size = self.size - 1
  end
  n = {k = k, v = v}
  self.map[k] = n; self:_front(n); self.size = self.size + 1
end
function LRU:keys() local t, n = {}, self.head.next while n ~= self.tail do t[#t + 1] = n.k; n = n.next end return t end
local c = LRU.new(3)
c:put("a", 1); c:put("b", 2); c:put("c", 3)
print(table.concat(c:keys(), " "))
print(c:get("a"), table.concat(c:keys(), " "))
c:put("d", 4)
print(c:get("b"), table.concat(c:keys(), " "))
c:put("c", 30)
print(c:get("c"), table.concat(c:keys(), " "), c.size)
-- stress with a deterministic access pattern
local big = LRU.new(50)
local hits, misses = 0, 0
for i = 1, 5000 do
  local k = (i * i + 3 * i) % 97
  if big:get(k) then hits = hits + 1 else misses = misses + 1; big:put(k, i) end
end
print(hits, misses, big.size)
