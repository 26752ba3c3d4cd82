import * as assert from "assert";
import { holderGone } from "../../release/deployLock";

describe("deploy lock: a holder whose process is gone", () => {
    const alive = (pids: number[]) => (pid: number) => pids.includes(pid);

    it("a process of this machine that no longer runs has abandoned its lock", () => {
        assert.strictEqual(holderGone("ops@runner-1 pid 4242: deploy v2", "runner-1", alive([])), true);
    });
    it("one that still runs, one of another machine, or an unreadable holder has not", () => {
        assert.strictEqual(holderGone("ops@runner-1 pid 4242: deploy v2", "runner-1", alive([4242])), false);
        assert.strictEqual(holderGone("ops@laptop pid 4242: deploy v2", "runner-1", alive([])), false);
        assert.strictEqual(holderGone("someone else", "runner-1", alive([])), false);
        assert.strictEqual(holderGone(`ops@runner-1 pid ${process.pid}: deploy v2`, "runner-1", alive([])), false, "never this process");
    });
});
