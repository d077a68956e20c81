//! `require` and the `package` table, written in Lua: modules come from
//! `package.preload` or from Lua files on `package.path` (when the embedder
//! allows files). There are no C modules.

/// Run at startup like the other preludes.
pub const PRELUDE: &str = r#"
local registry, tostring, select, write, type, error = ...
local loaded = {}
for _, name in ipairs({"string", "table", "math", "io", "os", "coroutine", "utf8", "debug"}) do
  loaded[name] = registry[name]
end
loaded._G = _G
local package = {
  loaded = loaded,
  preload = {},
  path = "/usr/local/share/lua/5.4/?.lua;/usr/local/share/lua/5.4/?/init.lua;./?.lua;./?/init.lua",
  cpath = "",
  config = "/\n;\n?\n!\n-\n",
}
loaded.package = package

function package.searchpath(name, path, sep, rep)
  sep = sep or "."
  rep = rep or "/"
  if sep ~= "" then
    name = name:gsub("%" .. sep, rep)
  end
  local tried = {}
  for template in path:gmatch("[^;]+") do
    local file = template:gsub("%?", name)
    local f = io.open(file, "r")
    if f then
      f:close()
      return file
    end
    tried[#tried + 1] = "\n\tno file '" .. file .. "'"
  end
  return nil, table.concat(tried)
end

local function preload_searcher(name)
  local loader = package.preload[name]
  if loader == nil then
    return "\n\tno field package.preload['" .. name .. "']"
  end
  return loader, ":preload:"
end

local function lua_searcher(name)
  local file, err = package.searchpath(name, package.path)
  if not file then
    return err
  end
  local loader, msg = loadfile(file)
  if not loader then
    error("error loading module '" .. name .. "' from file '" .. file .. "':\n\t" .. msg, 3)
  end
  return loader, file
end

package.searchers = {preload_searcher, lua_searcher}

function require(name)
  local value = loaded[name]
  if value ~= nil then
    return value
  end
  local messages = {}
  for _, searcher in ipairs(package.searchers) do
    local loader, data = searcher(name)
    if type(loader) == "function" then
      local result = loader(name, data)
      if result ~= nil then
        loaded[name] = result
      elseif loaded[name] == nil then
        loaded[name] = true
      end
      return loaded[name], data
    elseif type(loader) == "string" then
      messages[#messages + 1] = loader
    end
  end
  error("module '" .. name .. "' not found:" .. table.concat(messages), 2)
end
_G.package = package
"#;
