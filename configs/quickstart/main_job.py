# The main job (tools/quickstart.py) as data: which towers it makes and which sections evaluate them.
# A new method adds a tower and rows here; a new downstream model adds a section. `default=False` rows run
# under --all only. The run's world, tiny CLIP and Refiner reach the configs through mmengine's substitution of
# MMDISTILL_WORLD, MMDISTILL_TINY_CLIP and MMDISTILL_REFINER (apis/runs.py's run_variables).

# How each tower checkpoint is made: the pretrained tiny CLIP (stage 2), or distilled from it with a config
# (refiner=True: the Refiner of configs/refiner/refiner_synthetic.py is trained first, per seed; text_prefix: the
# tower was trained with its own text tower, exported from that prefix of the checkpoint and used to classify).
towers = dict(
    tiny_clip=dict(label='tiny CLIP (image-text)'),
    clipself=dict(label='CLIPSelf', config='configs/clipself/clipself_patches_synthetic.py'),
    clipself_proposals=dict(label='CLIPSelf (proposals)', config='configs/clipself/clipself_proposals_synthetic.py'),
    sc_clipself=dict(label='SC-CLIPSelf', config='configs/scd/sc_clipself_synthetic.py'),
    r_sc_clipself=dict(label='R-SC-CLIPSelf', config='configs/scd/r_sc_clipself_synthetic.py', refiner=True),
    r_sc_v=dict(label='R-SC-V', config='configs/scd/r_sc_v_synthetic.py', refiner=True),
    regiontext=dict(label='RegionText', config='configs/regiontext/regiontext_synthetic.py'),
    r_sc_regiontext=dict(label='R-SC-RegionText', config='configs/regiontext/r_sc_regiontext_synthetic.py',
                         refiner=True),
    atas=dict(label='ATAS', config='configs/atas/atas_synthetic.py'),
    atas_no_g2l=dict(label='ATAS w/o global-to-local', config='configs/atas/atas_no_g2l_synthetic.py'),
    atas_no_l2l=dict(label='ATAS w/o local-to-local', config='configs/atas/atas_no_l2l_synthetic.py'),
    atas_no_g2g=dict(label='ATAS w/o global-to-global', config='configs/atas/atas_no_g2g_synthetic.py'),
    atas_r_scd=dict(label='ATAS + R-SCD', config='configs/atas/atas_r_scd_synthetic.py', refiner=True),
    # 2 global + 8 local crops, text tower frozen, 200 steps of 16 images
    silc=dict(label='SILC (fine-tuning)', config='configs/silc/silc_finetune_synthetic.py'),
    # SILC from random weights on the tiny CLIP's data and steps; classifies with the text tower it trained
    silc_scratch=dict(label='SILC (from scratch, own text tower)', config='configs/silc/silc_pretrain_synthetic.py',
                      text_prefix='text_tower.clip.'),
    # the same with the image-text loss on the whole image (the tiny CLIP's inputs) and 4 local crops: SILC's
    # distillation term is the only difference from the tiny CLIP
    silc_whole_image=dict(label='SILC (from scratch, whole-image image-text loss, own text tower)',
                          config='configs/silc/silc-whole-image_pretrain_synthetic.py', text_prefix='text_tower.clip.'),
)

# Each section tests `config` once per row with the row's tower checkpoint at `tower_key`; `train=True`
# trains the config on that tower first. Columns: (label, metric keys shown as "a / b"[, scale]).
# `shows`: what the table shows, one sentence under its title. `picture` / `prepare`: registered main-job steps (mmdistill.registry.MAIN_JOB_STEPS, apis/quickstart.py).
# `test_options`: config options of every row's test (its training is unchanged). `lane=1`: the row needs only
# the tiny CLIP and is computed ahead, in the main job's order, by a second one-thread process while the main
# process (one thread too) computes the others (apis/quickstart.py's SecondLane; only with two threads or more;
# the lane=1 rows hold about half the work after the tiny CLIP). `claims`: the papers'
# comparisons that the table shows, each `row` against `baseline` (row labels) on `metric` in the table's units (x `scale`), with the
# margin the slow tests assert (about half the gain measured on the world, docs/benchmarks.md); the results say
# for each whether it holds, and claims.json keeps the numbers.
sections = [
    dict(
        name='dense_zero_shot',
        title='Dense zero-shot accuracy (mean per-class top-1 / top-5, %, val split)',
        shows=('How well each tower\'s dense features name the boxes, masks and crops of val images with no training: '
               'distillation (CLIPSelf, R-SC-CLIPSelf, ATAS) lifts boxes and masks far above the image-text tiny '
               'CLIP; a short SILC fine-tuning changes nothing (its claim needs pretraining from scratch, --all).'),
        config='configs/quickstart/dense_zero_shot_synthetic.py',
        tower_key='model.tower.checkpoint',
        text_key='model.vocabulary.text.checkpoint',  # for towers trained with their own text tower (text_prefix)
        outputs={'test_evaluator.out_file': 'per_class.json'},
        picture='per_class_accuracy',
        # affinity maps of a 2 x 2 grid of query points and PCA pictures of each row's tower on val images 0 and 3
        tower_pictures=dict(indices=[0, 3], grid=2, size=192, cell=128),
        claims=[
            dict(text="paper 001 (CLIPSelf): region-to-CLS distillation lifts the tower's thing-box accuracy",
                 row='CLIPSelf', baseline='tiny CLIP (image-text)', metric='dense_zs/boxes/thing_top1', margin=10.0),
            dict(text='paper 001 (CLIPSelf): and its thing-mask accuracy', row='CLIPSelf',
                 baseline='tiny CLIP (image-text)', metric='dense_zs/masks/thing_top1', margin=10.0),
            dict(text='paper 001 (R-SC-CLIPSelf): Refiner + spatial correlation lift thing boxes over the tiny CLIP',
                 row='R-SC-CLIPSelf', baseline='tiny CLIP (image-text)', metric='dense_zs/boxes/thing_top1',
                 margin=10.0),
            dict(text='paper 001: R-SC-CLIPSelf ranks above CLIPSelf on thing boxes (measured +2.2 over 2 seeds)',
                 row='R-SC-CLIPSelf', baseline='CLIPSelf', metric='dense_zs/boxes/thing_top1', margin=1.0),
            dict(text='paper 001: and on stuff masks (measured +6.5 over 2 seeds)', row='R-SC-CLIPSelf',
                 baseline='CLIPSelf', metric='dense_zs/masks/stuff_top1', margin=3.0),
            dict(text='paper 000 (ATAS): any-to-any self-distillation lifts thing boxes', row='ATAS',
                 baseline='tiny CLIP (image-text)', metric='dense_zs/boxes/thing_top1', margin=10.0),
            dict(text='paper 000 (ATAS): at (almost) no cost to crop accuracy (at most 3 points lost)', row='ATAS',
                 baseline='tiny CLIP (image-text)', metric='dense_zs/crops/thing_top1', margin=-3.0),
        ],
        columns=[('boxes thing', ['dense_zs/boxes/thing_top1', 'dense_zs/boxes/thing_top5']),
                 ('boxes stuff', ['dense_zs/boxes/stuff_top1', 'dense_zs/boxes/stuff_top5']),
                 ('masks thing', ['dense_zs/masks/thing_top1', 'dense_zs/masks/thing_top5']),
                 ('masks stuff', ['dense_zs/masks/stuff_top1', 'dense_zs/masks/stuff_top5']),
                 ('crops thing', ['dense_zs/crops/thing_top1', 'dense_zs/crops/thing_top5'])],
        # default: one row per paper's method (paper 001: CLIPSelf -> R-SC-CLIPSelf; paper 000: ATAS; paper 002: SILC
        # as a short fine-tuning, which changes nothing measurable: its claim needs pretraining from scratch, the
        # silc_whole_image row, 15 min on 2 cores)
        rows=[dict(tower='tiny_clip'), dict(tower='clipself'), dict(tower='r_sc_clipself'), dict(tower='atas', lane=1),
              dict(tower='silc', lane=1),
              dict(tower='clipself_proposals', default=False), dict(tower='sc_clipself', default=False),
              dict(tower='r_sc_v', default=False),
              dict(tower='regiontext', default=False), dict(tower='r_sc_regiontext', default=False),
              dict(tower='atas_no_g2l', default=False),
              dict(tower='atas_no_l2l', default=False), dict(tower='atas_no_g2g', default=False),
              dict(tower='atas_r_scd', default=False),
              dict(tower='silc_scratch', default=False), dict(tower='silc_whole_image', default=False)]),
    dict(
        name='detection',
        title='Open-vocabulary detection, F-ViT (box AP50, %, val split; 18 base / 6 novel things)',
        shows=('F-ViT trained on the base things over each frozen tower: the distilled tower\'s better dense map '
               'detects the novel things far better.'),
        config='configs/fvit/fvit_tinyclip-p12_fpn_1xb8-250it_ov-synthetic.py',
        tower_key='model.backbone.tower.checkpoint',
        train=True,
        prepare='ov_world',
        picture='detections',
        # tested on the first 500 of the 1 000 val images (the whole split: 40 s more per row)
        test_options={'test_dataloader.dataset.indices': 500},
        claims=[dict(text='paper 001: a better dense map gives F-ViT higher novel AP50', row='CLIPSelf',
                     baseline='tiny CLIP (image-text)', metric='coco/novel_ap50', scale=100, margin=6.0)],
        columns=[('novel AP50', ['coco/novel_ap50'], 100), ('base AP50', ['coco/base_ap50'], 100),
                 ('all AP50', ['coco/all_ap50'], 100)],
        rows=[dict(tower='tiny_clip', lane=1), dict(tower='clipself'), dict(tower='r_sc_clipself', default=False),
              dict(tower='tiny_clip', label='tiny CLIP, no ensemble (beta = 0)', default=False,
                   test_options={'model.roi_head.bbox_head.ensemble.beta': 0.0}),
              dict(tower='clipself', label='CLIPSelf, no ensemble (beta = 0)', default=False,
                   test_options={'model.roi_head.bbox_head.ensemble.beta': 0.0}),
              dict(tower='r_sc_clipself', label='R-SC-CLIPSelf, no ensemble (beta = 0)', default=False,
                   test_options={'model.roi_head.bbox_head.ensemble.beta': 0.0})]),
    dict(
        name='segmentation',
        title=('Training-free zero-shot segmentation (mIoU / sIoU / uIoU / hIoU, %, val split; '
               '24 seen / 8 unseen classes; readout of the last block)'),
        shows=('Segmentation with no training: the peers\' readouts (SCLIP, ClearCLIP, NACLIP) lift the tiny CLIP\'s '
               'value path, a distilled tower\'s value path lifts it further, and R-SC-CLIPSelf does not rank above '
               'CLIPSelf here (paper 001 reports it does on real benchmarks).'),
        config='configs/maskclip/maskclip_tinyclip-p12_synthetic-192.py',
        tower_key='model.tower.checkpoint',
        picture='segmentation',
        # margins: about half the smaller gain measured (AMD EPYC / Intel Xeon, seed 0): +19.2 / +14.5, +11.4 / +8.3
        claims=[dict(text='paper 001 (MaskCLIP evaluation): a distilled tower segments far better with no training',
                     row='CLIPSelf, value', baseline='tiny CLIP, value (MaskCLIP)', metric='mIoU', margin=7.0),
                dict(text="ClearCLIP (a peer readout, papers 000 / 001's baselines) lifts the value path",
                     row='tiny CLIP, ClearCLIP', baseline='tiny CLIP, value (MaskCLIP)', metric='mIoU', margin=4.0)],
        columns=[('mIoU', ['mIoU']), ('sIoU', ['sIoU']), ('uIoU', ['uIoU']), ('hIoU', ['hIoU'])],
        rows=[dict(tower='tiny_clip', label='tiny CLIP, value (MaskCLIP)', lane=1),
              dict(tower='tiny_clip', label='tiny CLIP, SCLIP', test_options={'model.tower.dense_path': 'sclip'},
                   lane=1),
              dict(tower='tiny_clip', label='tiny CLIP, ClearCLIP',
                   test_options={'model.tower.dense_path': 'clearclip'}, lane=1),
              dict(tower='tiny_clip', label='tiny CLIP, NACLIP', test_options={'model.tower.dense_path': 'naclip'},
                   lane=1),
              # NACLIP's published protocol refines with PAMR (10 steps, dilations 8 / 16 px on 336-448 px images);
              # the world's images are 192 px: the published dilations and the same scaled to the image
              dict(tower='tiny_clip', label='tiny CLIP, NACLIP + PAMR (dilations 8 / 16)', default=False,
                   test_options={'model.tower.dense_path': 'naclip',
                                 'model.post_processor': dict(type='PAMR', num_iter=10, dilations=(8, 16))}),
              dict(tower='tiny_clip', label='tiny CLIP, NACLIP + PAMR (dilations 3 / 6)', default=False,
                   test_options={'model.tower.dense_path': 'naclip',
                                 'model.post_processor': dict(type='PAMR', num_iter=10, dilations=(3, 6))}),
              dict(tower='clipself', label='CLIPSelf, value'),
              dict(tower='clipself', label='CLIPSelf, NACLIP', default=False,
                   test_options={'model.tower.dense_path': 'naclip'}),
              dict(tower='r_sc_clipself', label='R-SC-CLIPSelf, value')]),
    dict(
        name='catseg',
        title=('Open-vocabulary segmentation, Cat-Seg (mIoU / sIoU / uIoU / hIoU, %, val split; trained on the 24 seen '
               'classes, tested on all 32; q / v of both towers fine-tuned, 400 iterations)'),
        shows=('Cat-Seg, paper 001\'s segmentation consumer, fine-tuned on the seen classes over R-SC-CLIPSelf and '
               'tested on all classes: sIoU for the seen classes, uIoU for the unseen ones.'),
        config='configs/catseg/catseg_tinyclip-p12_1xb4-400_synthetic-96.py',
        tower_key='model.tower.checkpoint',  # the text tower stays the run's tiny CLIP
        train=True,
        # tested on the first 500 of the 1 000 val images (sliding windows: 1.3 min more per row on the whole split)
        test_options={'test_dataloader.dataset.indices': 500},
        columns=[('mIoU', ['mIoU']), ('sIoU', ['sIoU']), ('uIoU', ['uIoU']), ('hIoU', ['hIoU'])],
        # the best distilled tower by default (paper 001's Table 4 consumer)
        rows=[dict(tower='r_sc_clipself'), dict(tower='tiny_clip', default=False),
              dict(tower='clipself', default=False)]),
    dict(
        name='zero_shot_students',
        title=('Inductive zero-shot segmentation with no CLIP at test time, C2S (mIoU / sIoU / uIoU / hIoU, %, '
               'val split; 24 seen / 8 unseen classes; a SegFormer with the MiT-B0 layout trained from scratch '
               'on the seen classes, 300 steps)'),
        shows=('A SegFormer with no CLIP at test time: distilling the tiny CLIP into it (C2S) lifts the unseen classes '
               'far above the same student trained on the seen classes alone.'),
        config='configs/c2s/c2s_segformer-mit-b0_1xb16-300_synthetic-96.py',
        tower_key=None,  # the configs name the run's tiny CLIP: the text tower, and C2S's teacher
        train=True,
        picture='unseen_comparison',
        claims=[dict(text='paper 003 (C2S): distilling CLIP lifts the unseen classes', row='C2S, tiny CLIP teacher',
                     baseline='seen classes only, text classifier (no CLIP)', metric='uIoU', margin=5.0),
                dict(text='paper 003 (C2S): and the harmonic mean', row='C2S, tiny CLIP teacher',
                     baseline='seen classes only, text classifier (no CLIP)', metric='hIoU', margin=2.5)],
        columns=[('mIoU', ['mIoU']), ('sIoU', ['sIoU']), ('uIoU', ['uIoU']), ('hIoU', ['hIoU'])],
        # paper 003's Table 3: the student with and without CLIP (two trainings from scratch)
        rows=[dict(tower='tiny_clip', label='seen classes only, text classifier (no CLIP)',
                   config='configs/c2s/seen-only_segformer-mit-b0_1xb16-300_synthetic-96.py', lane=1),
              dict(tower='tiny_clip', label='C2S, tiny CLIP teacher', lane=1)]),
]
