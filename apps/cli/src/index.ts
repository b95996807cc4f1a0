export { runCli } from './main.js';
export { ApiClient, type ApiClientOptions } from './api-client.js';
export { CliError, EXIT_CODES, type ExitCode } from './errors.js';
export { loadCliConfig, type CliConfig } from './config.js';
export { scanDatasetFolder, type LocalDataset, type LocalImage } from './dataset/scan-folder.js';
export { uploadDataset, type UploadDatasetResult } from './dataset/upload-dataset.js';
export { loadCheckpoint, type LoadedCheckpoint } from './checkpoint/load-checkpoint.js';
export { predictImages, type ImagePrediction } from './checkpoint/predict-images.js';
export { renderSweep } from './commands/sweep.js';
