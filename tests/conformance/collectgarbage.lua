-- collectgarbage options
print(type(collectgarbage("count")), math.type(collectgarbage("count")))
print(collectgarbage("count") > 0)
print(collectgarbage())
print(collectgarbage("collect"))
print(collectgarbage("step"), type(collectgarbage("step", 0)))
print(collectgarbage("isrunning"))
collectgarbage("stop")
print(collectgarbage("isrunning"))
collectgarbage("restart")
print(collectgarbage("isrunning"))
print(pcall(collectgarbage, "bogus"))
-- creating and dropping garbage does not break anything
local t = {}
for i = 1, 10000 do t[i] = {i} end
t = nil
collectgarbage()
local s = 0
for i = 1, 1000 do local x = {i, tostring(i)} s = s + #x[2] end
print(s)
