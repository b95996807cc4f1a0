// The retention rule lives in the protocol (the controller applies it to PBT trials too).
export { planRetention, type RetentionPlan } from '@setrain/protocol';
