-- yielding from a function called by a C function (table.sort) is an error
local co = coroutine.create(function()
  table.sort({3, 1, 2}, function(a, b) coroutine.yield("cmp") return a < b end)
  return "sorted"
end)
print(coroutine.resume(co))
print(coroutine.status(co))
-- same through string.gsub callback
local co2 = coroutine.create(function()
  return (string.gsub("abc", "%a", function(c) coroutine.yield(c) end))
end)
print(coroutine.resume(co2))
-- pcall around it catches the error inside the coroutine
local co3 = coroutine.create(function()
  local ok, err = pcall(table.sort, {2, 1}, function(a, b) coroutine.yield() return a < b end)
  return ok, err
end)
print(coroutine.resume(co3))
-- load with a reader function that yields
local co4 = coroutine.create(function()
  return load(function() coroutine.yield() end)
end)
print(coroutine.resume(co4))
