-- Conway's game of life on a small torus
local W, H = 20, 10
local function new_grid() local g = {} for y = 1, H do g[y] = {} for x = 1, W do g[y][x] = 0 end end return g end
local g = new_grid()
-- glider and blinker
for _, p in ipairs({{2, 1}, {3, 2}, {1, 3}, {2, 3}, {3, 3}, {15, 5}, {16, 5}, {17, 5}}) do g[p[2]][p[1]] = 1 end
local function step(cur)
  local nxt = new_grid()
  for y = 1, H do
    for x = 1, W do
      local n = 0
      for dy = -1, 1 do
        for dx = -1, 1 do
          if dx ~= 0 or dy ~= 0 then
            n = n + cur[(y + dy - 1) % H + 1][(x + dx - 1) % W + 1]
          end
        end
      end
      local alive = cur[y][x] == 1
      nxt[y][x] = ((alive and (n == 2 or n == 3)) or (not alive and n == 3)) and 1 or 0
    end
  end
  return nxt
end
local function show(gr)
  for y = 1, H do
    local row = {}
    for x = 1, W do row[x] = gr[y][x] == 1 and "#" or "." end
    print(table.concat(row))
  end
end
for _ = 1, 4 do g = step(g) end
show(g)
local pop = 0
for _ = 1, 40 do g = step(g) end
for y = 1, H do for x = 1, W do pop = pop + g[y][x] end end
print("population", pop)
