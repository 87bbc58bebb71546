/** The run header's line on precision and layout: what was asked, what 'auto' chose on this device, and why. */
import type { MemoryFormat, Precision } from '../fast-path';
import type { NativeRuntimeInfo } from '../native';

export function fastPathHeader(runtime: NativeRuntimeInfo, device: string, precision: Precision, memoryFormat: MemoryFormat): string {
  const choice = device.startsWith('cuda') ? runtime.autoFastPath.cuda : runtime.autoFastPath.cpu;
  const features = runtime.cpuFeatures;
  const cpu = `CPU ${runtime.cpuCapability}, avx512-bf16 ${features.avx512Bf16 ? 'yes' : 'no'}, amx-bf16 ${features.amxBf16 ? 'yes' : 'no'}`;
  const resolved = (asked: string, chosen: string | undefined) => (asked === 'auto' ? `${chosen ?? '?'} (auto)` : asked);
  const why = precision === 'auto' || memoryFormat === 'auto' ? `; auto: ${choice?.reason ?? 'no choice for this device'}` : '';
  const effective = precision === 'auto' ? choice?.precision : precision;
  const decisions = effective === 'bf16' ? '; decisions in fp32' : '';
  return `fast path: precision ${resolved(precision, choice?.precision)}${decisions}, memory format ${resolved(memoryFormat, choice?.memoryFormat)}${why} (${cpu})`;
}
