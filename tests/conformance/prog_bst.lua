-- binary search tree: insert, search, delete, traversal, height
local function insert(node, k)
  if not node then return {key = k} end
  if k < node.key then node.left = insert(node.left, k)
  elseif k > node.key then node.right = insert(node.right, k) end
  return node
end
local function find(node, k)
  while node do
    if k == node.key then return true end
    node = k < node.key and node.left or node.right
  end
  return false
end
local function minnode(node) while node.left do node = node.left end return node end
local function delete(node, k)
  if not node then return nil end
  if k < node.key then node.left = delete(node.left, k)
  elseif k > node.key then node.right = delete(node.right, k)
  else
    if not node.left then return node.right end
    if not node.right then return node.left end
    local m = minnode(node.right)
    node.key = m.key
    node.right = delete(node.right, m.key)
  end
  return node
end
local function inorder(node, out) if node then inorder(node.left, out); out[#out + 1] = node.key; inorder(node.right, out) end return out end
local function height(node) if not node then return 0 end return 1 + math.max(height(node.left), height(node.right)) end
local root
local seed = 7
for _ = 1, 200 do
  seed = (seed * 48271) % 2147483647
  root = insert(root, seed % 1000)
end
local keys = inorder(root, {})
print(#keys, keys[1], keys[#keys], height(root))
print(find(root, keys[10]), find(root, -1), find(root, 1000))
for i = 1, #keys, 2 do root = delete(root, keys[i]) end
local after = inorder(root, {})
print(#after, after[1], after[#after])
local sorted = true
for i = 2, #after do if after[i - 1] >= after[i] then sorted = false end end
print(sorted)
-- string keys
local sroot
for w in ("pear apple fig banana cherry apple date"):gmatch("%a+") do sroot = insert(sroot, w) end
print(table.concat(inorder(sroot, {}), " "))
