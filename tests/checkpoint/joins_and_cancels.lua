-- Joins that wait across many turns and a cancel of a parked task: the
-- joined task's list of joiners and the cancelled task change while other
-- tasks run, and must survive a checkpoint at any turn.
local sleeper = task.spawn(function()
  task.sleep(0.05)
  return "slept"
end)
local joiners = {}
for i = 1, 3 do
  joiners[i] = task.spawn(function()
    task.yield()
    return task.join(sleeper) .. i
  end)
end
local victim = task.spawn(function()
  task.sleep(10)
  return "never"
end)
task.yield()
task.yield()
print("status before", task.status(victim))
print("cancelled", task.cancel(victim))
print("status after", task.status(victim))
for i = 1, 3 do print(task.join(joiners[i])) end
print(pcall(task.join, victim))
