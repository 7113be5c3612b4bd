/** The shape of the examples the diffusion networks see. */
import { latentShapeOf } from '../nn/autoencoder';
import type { ResolvedConfig } from './config';

/** The shape the diffusion networks see: the latent shape in latent runs, the data's own shape otherwise. */
export function modelShape(cfg: ResolvedConfig, dataShape: number[]): number[] {
  return cfg.model.space === 'latent' ? latentShapeOf(cfg.autoencoder!, dataShape) : dataShape;
}
