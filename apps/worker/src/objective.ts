// The objective helpers live in the protocol (the controller needs them too).
export { bestEpochOf, objectiveOf } from '@setrain/protocol';
