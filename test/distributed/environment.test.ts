/** Which rank a process is, from torchrun's and Slurm's environment contracts (no native code). */
import { firstSlurmHost, rankEnvironment } from '../../src/distributed/environment';

test('no launcher variables: one process, as before', () => {
  expect(rankEnvironment({})).toBeNull();
  // A batch script's own shell under sbatch --ntasks 4 is not a rank (no SLURM_STEP_ID): one process.
  expect(rankEnvironment({ SLURM_PROCID: '0', SLURM_NTASKS: '4' })).toBeNull();
});

test("torchrun's contract, with and without its agent's store", () => {
  const env = { MASTER_ADDR: 'node0', MASTER_PORT: '29400', RANK: '3', WORLD_SIZE: '8', LOCAL_RANK: '1' };
  expect(rankEnvironment(env)).toEqual({ rank: 3, worldSize: 8, localRank: 1, masterAddr: 'node0', masterPort: 29400, useAgentStore: false, restartCount: 0, launcher: 'torchrun' });
  expect(rankEnvironment({ ...env, TORCHELASTIC_USE_AGENT_STORE: 'True', TORCHELASTIC_RESTART_COUNT: '2' })).toMatchObject({ useAgentStore: true, restartCount: 2 });
});

test("srun's variables, the master from the node list unless MASTER_ADDR is set", () => {
  const env = { SLURM_PROCID: '5', SLURM_STEP_ID: '0', SLURM_STEP_NUM_TASKS: '8', SLURM_LOCALID: '1', SLURM_JOB_NODELIST: 'gpu[03-04],cpu1' };
  expect(rankEnvironment(env)).toEqual({ rank: 5, worldSize: 8, localRank: 1, masterAddr: 'gpu03', masterPort: 29500, useAgentStore: false, restartCount: 0, launcher: 'slurm' });
  expect(rankEnvironment({ ...env, MASTER_ADDR: '10.0.0.1', MASTER_PORT: '12345' })).toMatchObject({ masterAddr: '10.0.0.1', masterPort: 12345 });
  expect(firstSlurmHost('node7')).toBe('node7');
  expect(firstSlurmHost('a[1,3-5]')).toBe('a1');
});

test('a partial or wrong contract is refused, naming the variable, its value and the fix', () => {
  expect(() => rankEnvironment({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h' })).toThrow(
    expect.objectContaining({ code: 'ERR_DISTRIBUTED', message: expect.stringContaining('MASTER_PORT is not set but RANK is') }));
  expect(() => rankEnvironment({ RANK: '2', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' })).toThrow(
    'RANK is "2"; expected an integer in [0, 1] (this process\'s rank among WORLD_SIZE=2)');
  expect(() => rankEnvironment({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: 'x' })).toThrow(
    'MASTER_PORT is "x"; expected an integer in [1, 65535] (the port of the rendezvous store)');
});
