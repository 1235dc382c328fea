"The public API in one import: `from xdc_fast.all import *` (written by hand, like fastai.vision.all)."
from .core import *
from .synthetic import make_synthetic_av, write_av, synth_clip
from .avdigits import make_avdigits, fsdd_recordings, mnist_test_set, AVDIGITS_SPEAKERS
from .data.decode import decode_clip, decode_clips, probe_video, clip_starts, verify_videos, check_video, DecodeError, MissingAudioError
from .data.video import NormalizeVideo, RandomResizedCropVideo, CentreCropVideo, ColourJitterVideo
from .data.audio import LogMel, GainJitter, SpecMask, ColouredNoise, TimeShift, nuisance_tfms
from .data.block import (VIDEO_EXTS, AUDIO_EXTS, media_exts, cache_root, get_video_files, VideoBlock, AudioBlock, ClipIdBlock, DecodeAV, DecodeAVTrain,
                         AVTfmdDL, AVDataLoaders, verify_videos_cached)
from .data.prepare import prepare_video, prepare_videos
from .models import R2Plus1D, AudioResNet, r2plus1d_18, r2plus1d_small, resnet18_audio, resnet_small_audio, get_encoder, load_xdc_weights, ENCODERS
from .cluster import pca_fit, pca_apply, kmeans, assign, cluster_features, assign_new, nmi, purity, cluster_stats, cluster_weights
from .models import plan_heads, XDCModel, MultiHeadLoss, XDCLoss, info_nce, MemoryBank, CentroidHead, projection_mlp, VARIANTS
from .callback import ClusterCallback
from .features import feature_pass
from .distributed import setup_distributed, teardown_distributed, xdc_distributed, shard, gather_rows, broadcast_object, is_main
from .learner import xdc_learner, XDCLearner, RunCheckpoint, RunCSVLogger
from .results import ClusterRun, SaveClusterRun, as_run
from .widgets import show_clusters, cluster_members, cluster_confusion, ClusterExplorer, plot_metrics, plot_cluster_sizes, plot_confusion
from .evaluate import (EvalSplit, Protocol, ucf101_protocol, hmdb51_protocol, esc50_protocol, csv_protocol, PROTOCOLS, run_encoder, evaluate,
                       predict_clusters, export_clusters, make_protocol_samples)
from .transfer import (Features, window_starts, extract_features, ProbeResult, linear_probe, knn_predict, knn_accuracy, KNNMonitor,
                       classification_dls, Classifier, classifier_splitter, finetune_learner, video_level_accuracy)
