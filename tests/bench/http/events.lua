-- wrk script for bench_http: every request is a valid, distinct ONCRMDYNAMICITEMUPDATE form body (the shape
-- Bitrix24 posts), so dispatchd stores each one (no duplicates) and nginx gets the same bytes to ignore.
--   wrk ... -s events.lua URL -- <member_id> <application_token> [events|get]
-- "get" sends the same plain GET of URL every time (built once).
-- done() prints one line "wrk-result {json}" that bench_http parses.

local threads = {}

function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    member = args[1] or "bench"
    token = args[2] or "benchtoken"
    counter = 0
    base_ts = 1772430000
    headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
    if args[3] == "get" then
        get = wrk.format("GET", nil)
    end
end

function request()
    if get then
        return get
    end
    counter = counter + 1
    -- Distinct per thread and per request: the item id carries both, the timestamp moves with the counter.
    local id = tid * 100000000 + counter
    local body = "event=ONCRMDYNAMICITEMUPDATE&event_handler_id=7" ..
                 "&data%5BFIELDS%5D%5BID%5D=" .. id ..
                 "&data%5BFIELDS%5D%5BENTITY_TYPE_ID%5D=1038" ..
                 "&ts=" .. (base_ts + counter) ..
                 "&auth%5Bdomain%5D=bench.bitrix24.ru" ..
                 "&auth%5Bmember_id%5D=" .. member ..
                 "&auth%5Bapplication_token%5D=" .. token
    return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'wrk-result {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,' ..
        '"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
        summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
