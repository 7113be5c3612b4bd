/**
 * Constants of the students' Fourier embedding of w, in a module of their own so that both the config (defaults,
 * legacy run folders) and the network read them without importing each other.
 */

/** Default highest frequency of the students' Fourier embedding of w (model.wFreqMax). */
export const W_FREQ_MAX_DEFAULT = 4;
/** The w-embedding frequency of runs created before model.wFreqMax existed (their config.json lacks it). */
export const W_FREQ_MAX_LEGACY = 50;
