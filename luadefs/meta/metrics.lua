---@meta metrics

---Scripts' own Prometheus metrics (`--metrics`): one series per metric,
---summed over workers, kept across reloads (LUA_API 5.9).
local metrics = {}

---A counter: inc and add only go up.
---@param name string
---@param help string
---@param labels? string[] label names
---@return Metric
function metrics.counter(name, help, labels) end

---A gauge: set, inc, dec and add.
---@param name string
---@param help string
---@param labels? string[] label names
---@return Metric
function metrics.gauge(name, help, labels) end

---A histogram: observe.
---@param name string
---@param help string
---@param buckets? number[] upper bounds, increasing
---@param labels? string[] label names
---@return Metric
function metrics.histogram(name, help, buckets, labels) end

---Counts one HTTP response by status class (httpd.lua calls it).
---@param status integer
function metrics.http_response(status) end

---A metric object; labels are a table of the metric's label names.
---@class Metric
---@field inc fun(self: Metric, labels?: table<string, string|number|boolean>)
---@field dec fun(self: Metric, labels?: table<string, string|number|boolean>) gauges only
---@field add fun(self: Metric, n: number, labels?: table<string, string|number|boolean>)
---@field set fun(self: Metric, n: number, labels?: table<string, string|number|boolean>) gauges only
---@field observe fun(self: Metric, v: number, labels?: table<string, string|number|boolean>) histograms only

return metrics
