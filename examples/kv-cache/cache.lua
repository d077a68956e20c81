-- An in-memory key-value store with optional expiration, after the
-- go-cache library: items live until deleted or until their time to live
-- passes on the runtime's logical clock (task.now()).
--
-- Values and deadlines are kept in two flat tables rather than one small
-- table per item: fewer objects for the collector, and a change touches
-- one table entry (which is what a checkpoint delta records).

local Cache = {}
Cache.__index = Cache

local now = task.now

-- A cache whose items never expire unless given a ttl.
function Cache.new()
  return setmetatable({ values = {}, deadlines = {}, n = 0 }, Cache)
end

local function expired(self, key)
  local d = self.deadlines[key]
  return d ~= nil and d <= now()
end

local function remove(self, key)
  if self.values[key] ~= nil then
    self.values[key] = nil
    self.deadlines[key] = nil
    self.n = self.n - 1
    return true
  end
  return false
end

-- The value of `key`, or nil when absent or expired.
function Cache:get(key)
  local v = self.values[key]
  if v == nil then return nil end
  if expired(self, key) then
    remove(self, key)
    return nil
  end
  return v
end

-- Stores `value` under `key`; `ttl` in seconds (nil: no expiration).
function Cache:set(key, value, ttl)
  if self.values[key] == nil then self.n = self.n + 1 end
  self.values[key] = value
  self.deadlines[key] = ttl and (now() + ttl) or nil
end

-- Stores only if the key is absent (or expired). Returns whether it stored.
function Cache:add(key, value, ttl)
  if self:get(key) ~= nil then return false end
  self:set(key, value, ttl)
  return true
end

function Cache:delete(key)
  if expired(self, key) then
    remove(self, key)
    return false
  end
  return remove(self, key)
end

function Cache:exists(key)
  return self:get(key) ~= nil
end

-- Adds `delta` to the integer stored at `key` (absent counts as 0),
-- keeping its expiration. Returns the new value, or nil and a message.
function Cache:incr(key, delta)
  local v = self:get(key)
  local n
  if v == nil then
    n = 0
  else
    n = math.tointeger(tonumber(v))
    if n == nil or tostring(n) ~= v then
      return nil, "value is not an integer or out of range"
    end
  end
  local r = n + delta
  if (delta > 0 and r < n) or (delta < 0 and r > n) then
    return nil, "increment or decrement would overflow"
  end
  if v == nil then self.n = self.n + 1 end
  self.values[key] = tostring(r)
  return r
end

-- Sets the time to live of an existing key. Returns whether it exists.
function Cache:expire(key, ttl)
  if self:get(key) == nil then return false end
  self.deadlines[key] = now() + ttl
  return true
end

-- Seconds left for `key`: nil when absent, false when it never expires.
function Cache:ttl(key)
  if self:get(key) == nil then return nil end
  local d = self.deadlines[key]
  if d == nil then return false end
  return d - now()
end

-- Items stored, including expired ones the janitor has not evicted yet.
function Cache:count()
  return self.n
end

function Cache:flush()
  self.values, self.deadlines, self.n = {}, {}, 0
end

-- Evicts every expired item; returns how many.
function Cache:delete_expired()
  local t = now()
  local doomed = {}
  for key, d in pairs(self.deadlines) do
    if d <= t then doomed[#doomed + 1] = key end
  end
  for _, key in ipairs(doomed) do remove(self, key) end
  return #doomed
end

-- Starts the janitor: a task that evicts expired items every `interval`
-- seconds. Returns its task handle.
function Cache:start_janitor(interval)
  return task.spawn(function()
    while true do
      task.sleep(interval)
      self:delete_expired()
    end
  end)
end

return Cache
