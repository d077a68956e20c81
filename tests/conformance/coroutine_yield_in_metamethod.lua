-- yields from inside metamethods invoked by Lua code
local mt = {
  __index = function(t, k) return coroutine.yield("index " .. k) end,
  __add = function(a, b) return coroutine.yield("add") end,
  __lt = function(a, b) return coroutine.yield("lt") end,
  __concat = function(a, b) return coroutine.yield("concat") end,
  __eq = function(a, b) return coroutine.yield("eq") end,
  __call = function(self, x) return coroutine.yield("call " .. x) end,
  __newindex = function(t, k, v) coroutine.yield("newindex " .. k .. "=" .. v) end,
  __len = function() return coroutine.yield("len") end,
  __unm = function() return coroutine.yield("unm") end,
}
local obj = setmetatable({}, mt)
local other = setmetatable({}, mt)
local co = coroutine.wrap(function()
  local r = {}
  r[#r + 1] = obj.foo
  r[#r + 1] = obj + 1
  r[#r + 1] = tostring(obj < other)
  r[#r + 1] = obj .. "s"
  r[#r + 1] = tostring(obj == other)
  r[#r + 1] = obj("x")
  obj.k = "v"
  r[#r + 1] = #obj
  r[#r + 1] = -obj
  return "done: " .. table.concat(r, ",")
end)
print(co())
print(co("A"))
print(co("B"))
print(co(true))
print(co("C"))
print(co(false))
print(co("D"))
print(co())
print(co(5))
print(co("E"))
