-- singly linked list with push, pop, reverse, iteration and removal
local List = {}
List.__index = List
function List.new() return setmetatable({head = nil, size = 0}, List) end
function List:push(v) self.head = {value = v, next = self.head}; self.size = self.size + 1 end
function List:pop()
  local h = self.head
  if not h then return nil end
  self.head = h.next; self.size = self.size - 1
  return h.value
end
function List:iter()
  local node = self.head
  return function()
    if node then local v = node.value; node = node.next; return v end
  end
end
function List:reverse()
  local prev, cur = nil, self.head
  while cur do cur.next, prev, cur = prev, cur, cur.next end
  self.head = prev
end
function List:remove_if(pred)
  local dummy = {next = self.head}
  local n = dummy
  while n.next do
    if pred(n.next.value) then n.next = n.next.next; self.size = self.size - 1 else n = n.next end
  end
  self.head = dummy.next
end
function List:totable() local t = {} for v in self:iter() do t[#t + 1] = v end return t end
local l = List.new()
for i = 1, 10 do l:push(i) end
print(l.size, table.concat(l:totable(), " "))
l:reverse()
print(table.concat(l:totable(), " "))
l:remove_if(function(v) return v % 3 == 0 end)
print(l.size, table.concat(l:totable(), " "))
print(l:pop(), l:pop(), l.size)
while l:pop() do end
print(l.size, l:pop(), #l:totable())
-- a long list does not overflow anything when iterated
local big = List.new()
for i = 1, 100000 do big:push(i) end
local s = 0
for v in big:iter() do s = s + v end
print(s)
