-- Tasks blocked on channels, sleeping, joined; a select waiting with a
-- timeout; all of it must survive a checkpoint at any turn.
local jobs, results = chan.new(2), chan.new()
local workers = {}
for w = 1, 3 do
  workers[w] = task.spawn(function()
    local done = 0
    while true do
      local job, ok = jobs:recv()
      if not ok then return done end
      task.sleep(0.01 * w)
      results:send(("w%d:%d"):format(w, job * job))
      done = done + 1
    end
  end)
end
task.spawn(function()
  for i = 1, 9 do jobs:send(i) end
  jobs:close()
end)
local got = {}
for _ = 1, 9 do got[#got + 1] = results:recv() end
table.sort(got)
print(table.concat(got, " "))
for w = 1, 3 do print("worker", w, task.join(workers[w]) > 0) end
local idle = chan.new()
print(chan.select{ {idle, "recv"}, timeout = 0.5 }, task.now() > 0.5)
local ticker = task.spawn(function()
  for i = 1, 3 do task.sleep(0.1) print("tick", i) end
end)
task.join(ticker)
print("clock", string.format("%.2f", task.now()))
