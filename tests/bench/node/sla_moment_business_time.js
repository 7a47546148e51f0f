// Times moment-business-time on the deadline cases bench_sla wrote (one zone, weekly hours, holidays, no pauses)
// and prints `bench` lines like the C++ binaries. scripts/bench.sh runs every *.js here as
//   node <script> <bench-out dir>
// with NODE_PATH at build/bench-node/node_modules; <dir>/bench.txt holds the lines printed so far, so a ratio
// against our own figure can be printed here.
'use strict';
const fs = require('fs');
const path = require('path');

const outDir = process.argv[2];
const casesPath = path.join(outDir, 'sla_moment_cases.json');
if (!fs.existsSync(casesPath)) {
    console.error(`${casesPath} missing: run bench_sla with DISPATCH_BENCH_OUT=${outDir} first`);
    process.exit(1);
}
const spec = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
// moment works in the process's local zone; Node re-reads TZ when it is assigned.
process.env.TZ = spec.zone;

const moment = require('moment');
require('moment-business-time');
moment.updateLocale('en', { workinghours: spec.workinghours, holidays: spec.holidays });

function deadline(c) {
    return moment(c.start).addWorkingTime(c.minutes, 'minutes').valueOf();
}

// Agreement check: the two libraries should be doing the same work. moment-business-time may answer a deadline
// that uses up a day exactly with the next opening instead of the close, so count both kinds.
let same = 0;
let atNextOpening = 0;
for (const c of spec.cases) {
    const theirs = deadline(c);
    if (theirs === c.expect) {
        same++;
    } else if (moment(c.expect).isWorkingTime() === false && moment(c.expect).nextWorkingTime().valueOf() === theirs) {
        atNextOpening++;
    }
}
const differ = spec.cases.length - same - atNextOpening;
console.error(`moment-business-time: ${same} equal, ${atNextOpening} at the next opening instead of the close, ` +
              `${differ} different, of ${spec.cases.length}`);

// Warm up, then run for at least two seconds.
for (let i = 0; i < 2000; i++) deadline(spec.cases[i % spec.cases.length]);
let n = 0;
const begin = process.hrtime.bigint();
let elapsedNs = 0n;
while (elapsedNs < 2000000000n) {
    for (let i = 0; i < 500; i++) {
        deadline(spec.cases[(n + i) % spec.cases.length]);
    }
    n += 500;
    elapsedNs = process.hrtime.bigint() - begin;
}
const theirsPerS = n / (Number(elapsedNs) / 1e9);
console.log(`bench sla.moment_business_time_deadline_per_s ${theirsPerS.toFixed(0)} 1/s`);
console.log(`bench sla.moment_business_time_disagreements ${differ} cases`);

const soFar = fs.existsSync(path.join(outDir, 'bench.txt')) ? fs.readFileSync(path.join(outDir, 'bench.txt'), 'utf8') : '';
const ours = soFar.match(/^bench sla\.deadline_moment_cases_per_s (\S+) /m);
if (ours) {
    console.log(`bench sla.deadline_vs_moment_business_time ${(Number(ours[1]) / theirsPerS).toFixed(0)} x`);
} else {
    console.error('no sla.deadline_moment_cases_per_s line from bench_sla: ratio not printed');
}
