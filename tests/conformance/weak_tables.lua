-- weak tables: unreachable keys/values disappear after a full collection
local weak_k = setmetatable({}, {__mode = "k"})
local strong = {}
weak_k[strong] = "kept"
weak_k[{}] = "dropped"
local weak_v = setmetatable({}, {__mode = "v"})
weak_v[1] = strong
weak_v[2] = {}
weak_v.s = "strings are values, never collected"
weak_v.n = 42
collectgarbage()
collectgarbage()
local n = 0
for _ in pairs(weak_k) do n = n + 1 end
print(n, weak_k[strong])
print(weak_v[1] == strong, weak_v[2], weak_v.s, weak_v.n)
-- __gc finalizers run on collection
local finalized = {}
do
  setmetatable({}, {__gc = function() finalized[#finalized + 1] = "obj" end})
end
collectgarbage()
collectgarbage()
print(#finalized, finalized[1])
print(getmetatable(weak_k).__mode)
